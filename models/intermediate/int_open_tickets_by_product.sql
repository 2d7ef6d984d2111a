select
    product_id,
    count(*) as open_tickets
from {{ ref('stg_support_tickets') }}
where status in ('open', 'pending')
  and product_id is not null
group by product_id
