-- Open or pending tickets a model judges urgent. The cheap filters (status, and on incremental
-- runs the opening date) apply first, so the model only reads the tickets that pass them.
{{ config(materialized='incremental', unique_key='ticket_id') }}

select
    ticket_id,
    customer_id,
    product_id,
    subject,
    status,
    opened_at,
    SMART_LLM('Summarize the request in one sentence.', body) as summary
from {{ ref('stg_support_tickets') }}
where status in ('open', 'pending')
  and SMART_LLM(
        'Is this ticket urgent (safety risk, refund demand, or a deadline)? Answer yes or no.',
        subject || ': ' || body,
        labels => ['yes', 'no']
      ) = 'yes'
{% if is_incremental() %}
  and opened_at > (select max(opened_at) from {{ this }})
{% endif %}
