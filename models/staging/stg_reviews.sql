select
    review_id,
    product_id,
    customer_id,
    rating,
    trim(review_text) as review_text,
    cast(reviewed_at as date) as reviewed_at
from {{ ref('reviews') }}
