"""Merchant coupons (商家券, domain.md §2.5): merchants at a lot, their staff, batches and
budgets, giving and claiming, the best choice at a quote, exactly-once use, reports."""
