import pytest

from smart_sql.errors import ConfigError
from smart_sql.llm.config import DEFAULT_SIMULATED_MODELS, parse_llm_config

OPENAI_MODELS = [
    {"name": "gpt-4o", "input_price_per_1m": 2.5, "output_price_per_1m": 10.0, "reference": True},
    {"name": "gpt-4o-mini", "input_price_per_1m": 0.15, "output_price_per_1m": 0.6},
]


def test_missing_block_is_the_simulated_default():
    config = parse_llm_config(None)
    assert config.provider == "simulated"
    assert config.models == DEFAULT_SIMULATED_MODELS
    assert config.reference.name == "sim-large"
    assert set(config.simulated.agreement) == {"sim-medium", "sim-small"}


def test_openai_block():
    config = parse_llm_config({"provider": "openai", "api_key": "sk-secret", "models": OPENAI_MODELS,
                               "max_concurrency": 8, "accuracy": 0.95})
    assert config.reference.name == "gpt-4o"
    assert config.model("gpt-4o-mini").cost(1_000_000, 1_000_000) == pytest.approx(0.75)
    assert config.max_concurrency == 8 and config.accuracy == 0.95
    assert config.retry_timeout_seconds == 300
    assert "sk-secret" not in repr(config)


@pytest.mark.parametrize("block, fragment", [
    ({"provider": "anthropic"}, "unknown provider 'anthropic'"),
    ({"provider": "openai"}, "needs a `models` list"),
    ({"models": [{"name": "a", "input_price_per_1m": 1, "output_price_per_1m": 1}]}, "exactly one model"),
    ({"models": ["gpt-4o"]}, "needs prices"),
    ({"models": [{"name": "a", "input_price_per_1m": -1, "output_price_per_1m": 1, "reference": True}]},
     "`input_price_per_1m` must be a number >= 0"),
    ({"accuracy": 1.5}, "`accuracy` must be in (0, 1]"),
    ({"confidence": 1.0}, "`confidence` must be in (0, 1)"),
    ({"max_concurrency": 0}, "`max_concurrency` must be >= 1"),
    ({"retry_timeout_seconds": -1}, "`retry_timeout_seconds` must be >= 0.0"),
    ({"max_retries": 6}, "`max_retries` is no longer read"),
    ({"method": "cheapest"}, "unknown method 'cheapest'"),
    ({"colour": "red"}, "unknown key(s) colour"),
    ({"simulated": {"agreement": {"nope": 0.5}}}, "unknown model 'nope'"),
    ({"simulated": {"agreement": {"sim-small": 1.5}}}, "between 0 and 1"),
    ({"simulated": {"score": "sharp"}}, "simulated: unknown key(s) score"),
    ({"simulated": {"scores": "confident"}}, "`simulated.scores`: unknown preset 'confident'"),
    ({"simulated": {"scores": {"agreeing": [2, 1]}}}, "exactly `agreeing` and `disagreeing`"),
    ({"simulated": {"scores": {"agreeing": [2, 0], "disagreeing": [1, 1]}}},
     "`simulated.scores.agreeing` must be two Beta parameters [alpha, beta], each > 0, got [2, 0]"),
    ({"simulated": {"scores": {"sim-tiny": "sharp"}}}, "simulated.scores names unknown model(s) sim-tiny"),
    ({"simulated": {"scores": {"sim-small": {"agreeing": [1, 1, 1], "disagreeing": [1, 1]}}}},
     "`simulated.scores.sim-small.agreeing` must be two Beta parameters"),
    ({"simulated": {"scores": 0.9}}, "`simulated.scores` must be a preset name or a mapping"),
])
def test_bad_blocks_name_the_file_and_the_fix(block, fragment):
    with pytest.raises(ConfigError) as error:
        parse_llm_config(block, source="profiles.yml")
    assert fragment in str(error.value)
    assert str(error.value).startswith("profiles.yml: llm:")
    assert error.value.exit_code == 2


def test_the_example_profile_pins_dated_model_names_and_parses():
    import re
    from pathlib import Path

    import yaml

    example = yaml.safe_load((Path(__file__).resolve().parent.parent / "profiles.yml.example").read_text())
    block = dict(example["smart_sql_example"]["outputs"]["prod"]["llm"], api_key="sk-test")
    config = parse_llm_config(block, source="profiles.yml.example")
    assert all(re.search(r"-\d{4}-\d{2}-\d{2}$", m.name) for m in config.models)


@pytest.mark.parametrize("block, message", [
    ({"compare": "fuzzy"}, "unknown compare 'fuzzy'"),
    ({"max_invalid_share": 1.5}, "max_invalid_share"),
])
def test_bad_value_options_are_refused(block, message):
    with pytest.raises(ConfigError, match=message):
        parse_llm_config(block)


def test_value_options_default_and_parse():
    assert (parse_llm_config(None).compare, parse_llm_config(None).max_invalid_share) == ("normalized", 0.05)
    config = parse_llm_config({"compare": "exact", "max_invalid_share": 0.2})
    assert (config.compare, config.max_invalid_share) == ("exact", 0.2)


def test_simulated_scores_are_one_distribution_for_every_model_or_one_per_model():
    from smart_sql.llm.score_distributions import PRESETS, ScoreDistribution

    everywhere = parse_llm_config({"simulated": {"scores": "sharp"}}).simulated.scores
    assert everywhere == {name: PRESETS["sharp"] for name in ("sim-large", "sim-medium", "sim-small")}
    custom = {"agreeing": [8, 2], "disagreeing": [2.5, 4]}
    assert parse_llm_config({"simulated": {"scores": custom}}).simulated.scores["sim-medium"] == \
        ScoreDistribution((8.0, 2.0), (2.5, 4.0))
    per_model = parse_llm_config({"simulated": {"scores": {"sim-small": "inverted", "sim-medium": custom}}})
    assert per_model.simulated.scores == {"sim-small": PRESETS["inverted"],
                                          "sim-medium": ScoreDistribution((8.0, 2.0), (2.5, 4.0))}
    assert parse_llm_config(None).simulated.scores == {}
