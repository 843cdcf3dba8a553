#!/usr/bin/env python3
"""An OTLP/HTTP metrics receiver for the e2e tests, built from the official OpenTelemetry protobuf
definitions (PyPI opentelemetry-proto), not from cargo-loadtest's encoder.

Usage: otlp_receiver.py OUT.jsonl

Listens on 127.0.0.1 at a free port and prints the port on the first line of stdout. Each
POST /v1/metrics body (protobuf, gzip-compressed when Content-Encoding says so) is decoded as an
ExportMetricsServiceRequest and appended to OUT.jsonl as one JSON line: {"path", "headers",
"request"}, the request in the protobuf JSON mapping (google.protobuf.json_format, 64-bit
integers as strings, fields at their default value left out). Answers an empty
ExportMetricsServiceResponse. Runs until killed.
"""

import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

OUT = sys.argv[1]
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        if self.path != "/v1/metrics":
            self.send_error(404, "only /v1/metrics")
            return
        request = ExportMetricsServiceRequest()
        try:
            request.ParseFromString(body)
        except Exception as e:  # a body the official definitions cannot decode
            self.send_error(400, "not an ExportMetricsServiceRequest: %s" % e)
            return
        line = json.dumps(
            {
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "request": MessageToDict(request),
            }
        )
        with LOCK, open(OUT, "a") as f:
            f.write(line + "\n")
        reply = ExportMetricsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
