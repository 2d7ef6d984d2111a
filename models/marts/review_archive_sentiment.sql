-- The sentiment of 3,000 archived reviews. A table this size repays profiling: SMART answers a
-- random sample with every model, certifies which cheaper models agree with the reference often
-- enough, and answers the rest with the cheapest mix that keeps the 0.9 accuracy guarantee.
select
    review_id,
    product_id,
    rating,
    SMART_LLM(
        'Classify the sentiment of this product review.',
        review_text,
        labels => ['positive', 'negative', 'mixed'],
        accuracy => 0.9,
        confidence => 0.95
    ) as sentiment
from {{ ref('review_archive') }}
