-- One row per review with two LLM columns: a labelled sentiment and the product aspect it is about.
select
    r.review_id,
    r.product_id,
    p.product_name,
    r.rating,
    SMART_LLM(
        'Classify the sentiment of this product review.',
        r.review_text,
        labels => ['positive', 'negative', 'mixed'],
        accuracy => 0.9
    ) as sentiment,
    SMART_LLM(
        'Name, in at most three words, the product feature this review is about.',
        r.review_text,
        max_tokens => 8
    ) as feature
from {{ ref('stg_reviews') }} as r
join {{ ref('stg_products') }} as p using (product_id)
