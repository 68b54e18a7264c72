"""The monitoring page at /admin/monitoring (spec 4.1, issue 26 item 4): its six sections as JSON
(shared.monitoring.payload) and the page itself (shared.monitoring.page: HTML, script, style and the
bundled Chart.js), served by functions/monitoring behind the admin authorization."""
