"""The replay report: what an operator looks at after replaying trade days (`certx report`).

A pure part folds a replay's events into figures (`figures`), with the official statistics compared
(`official`) and the Kafka replay's measurements (`measures`) when given; `page` renders the figures as one
self-contained HTML file, with the charting library (uPlot, `certx/vendor/`) inlined, so the page loads nothing when
it is opened.
"""
