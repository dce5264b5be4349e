"""Stock page: the role check, error handling and rendering live in dashboards/ (thin page)."""
from dashboards.layout import run_page
from dashboards.views import stock

run_page("stock", stock.render)
