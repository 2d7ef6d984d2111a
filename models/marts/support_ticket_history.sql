{{ config(materialized='incremental', unique_key='ticket_id') }}

-- One row per ticket, kept up to date: later runs only read tickets opened in the last
-- `ticket_lookback_days` before the newest ticket already loaded, and replace them by ticket_id.
select
    t.ticket_id,
    t.opened_at,
    t.status,
    t.subject,
    t.body,
    c.full_name as customer_name,
    c.country,
    p.product_name
from {{ ref('stg_support_tickets') }} as t
join {{ ref('stg_customers') }} as c using (customer_id)
left join {{ ref('stg_products') }} as p using (product_id)
{% if is_incremental() %}
where t.opened_at >= (select max(opened_at) - {{ var('ticket_lookback_days') }} from {{ this }})
{% endif %}
