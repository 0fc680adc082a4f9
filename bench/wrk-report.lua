-- Makes wrk print its figures as one JSON line (latencies in ms), for bench/run.py.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
      .. '"p50": %.4f, "p95": %.4f, "p99": %.4f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
