"""Mail to the tenants' managers who opted in: the monthly consumption report and the daily
low-stock alert (`send`: who gets what, over SMTP), on a Dagster schedule each (`assets`).

The one stage of pipelines that reads the dashboards' code (dashboards/mail.py writes the
mails): a mail is a dashboard delivered by post, so it is written by the same queries, words
and formats as the pages, and lives downstream of them.
"""
