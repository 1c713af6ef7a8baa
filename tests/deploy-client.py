#!/usr/bin/env python3
"""tests/deploy-client.py URL MODEL OUT STOPFILE: what a user of the served
model does, as fast as the issue asks: a chat completion every 20 ms
through the web server (a new connection each, as most clients make),
until STOPFILE exists.  Each answer is one line of OUT: "TIME STATUS
TEXT", TEXT the completion's content (the checkpoint serving it) or
what went wrong."""
import http.client, json, os, sys, time, urllib.parse

url, model, out, stop = sys.argv[1:5]
u = urllib.parse.urlsplit(url)
body = json.dumps({"model": model, "messages": [{"role": "user",
                   "content": "which checkpoint are you?"}]})
with open(out, "w", buffering=1) as f:
    while not os.path.exists(stop):
        t0 = time.time()
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            c.request("POST", u.path, body,
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read().decode("utf-8", "replace")
            c.close()
            try:
                text = json.loads(data)["choices"][0]["message"]["content"]
            except Exception:
                text = data.replace("\n", " ")[:200]
            f.write("%.3f %d %s\n" % (t0, r.status, text))
        except Exception as e:
            f.write("%.3f 000 %s\n" % (t0, repr(e)[:200]))
        time.sleep(max(0.0, 0.02 - (time.time() - t0)))
