"""Hours: the hourly overlay on monthly GECs, the hour filters, and the 24/7 allocation with its evidence."""
