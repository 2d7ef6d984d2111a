select
    customer_id,
    first_name || ' ' || last_name as full_name,
    lower(email) as email,
    country,
    cast(signed_up_at as date) as signed_up_at
from {{ ref('customers') }}
