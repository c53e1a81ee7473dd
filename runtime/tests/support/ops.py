"""Real tools the operations tests drive (`runtime/tests/metrics.rs`,
`runtime/tests/sentry.rs`), run with the Python `scripts/test` sets up
(`ROOKERY_OPS_PYTHON`, with `prometheus-client` and `kent` from PyPI).

  ops.py scrape URL TOKEN FORMAT
      GET URL (with `Authorization: Bearer TOKEN` unless TOKEN is ""),
      FORMAT `prometheus` or `openmetrics` (also asked for in `Accept`); parse the body with
      prometheus_client's own parser of that format (the Prometheus text
      format, or OpenMetrics, whose parser is strict), print one JSON
      object: {"status", "content_type", "text", "samples": [...]}, each
      sample {"name", "labels", "value"}. A body that does not parse fails.
  ops.py kent
      serve Kent (a fake Sentry service, `kent.app`) on 127.0.0.1, a port
      the system picks; print the port once bound, then serve until killed.
  ops.py get URL
      GET URL, print the body.
"""

import json
import sys
import urllib.error
import urllib.request


def get(url, headers):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers.get("content-type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read().decode()


def scrape(url, token=None, fmt="prometheus"):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if fmt == "openmetrics":
        headers["Accept"] = "application/openmetrics-text; version=1.0.0"
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    status, content_type, text = get(url, headers)
    samples = []
    if status == 200:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.append({"name": sample.name, "labels": sample.labels, "value": sample.value})
    print(json.dumps({"status": status, "content_type": content_type, "text": text, "samples": samples}))


def kent():
    from kent.app import create_app
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, create_app(), threaded=True)
    print(server.port, flush=True)
    server.serve_forever()


def main(args):
    if args[0] == "scrape":
        scrape(args[1], args[2] or None, args[3])
    elif args[0] == "kent":
        kent()
    elif args[0] == "get":
        print(get(args[1], {})[2])
    else:
        sys.exit(f"unknown command {args[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
