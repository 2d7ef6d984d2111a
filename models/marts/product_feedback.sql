with review_stats as (
    select
        product_id,
        count(*) as reviews,
        round(avg(rating), 2) as avg_rating,
        count(*) filter (where rating <= {{ var('low_rating_threshold') }}) as low_ratings
    from {{ ref('stg_reviews') }}
    group by product_id
)

select
    p.product_id,
    p.product_name,
    p.category,
    p.price,
    coalesce(r.reviews, 0) as reviews,
    r.avg_rating,
    coalesce(r.low_ratings, 0) as low_ratings,
    coalesce(t.open_tickets, 0) as open_tickets
from {{ ref('stg_products') }} as p
left join review_stats as r using (product_id)
left join {{ ref('int_open_tickets_by_product') }} as t using (product_id)
