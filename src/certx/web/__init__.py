"""The live market page (`certx serve web`, issue 14): what it shows, folded from the feed (`board`, pure), and
the read-only ASGI app that serves it and streams it to browsers (`app`); the page itself is `page.html`,
`page.js` and `page.css`, with the vendored uPlot (certx.vendor). The Kafka reading is certx.kafka.web."""
