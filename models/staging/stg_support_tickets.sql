select
    ticket_id,
    customer_id,
    product_id,
    subject,
    trim(body) as body,
    status,
    cast(opened_at as date) as opened_at
from {{ source('shop', 'support_tickets') }}
