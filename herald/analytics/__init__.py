"""Analytics: what the sync samples when, and the arithmetic the endpoints and exports share."""
