#!/usr/bin/env python3
"""Writes the shipped sample (testdata/sample.jsonl, testdata/sample_queries.jsonl):
300 clustered 16-d memories with payloads, and 20 queries. Fixed seed; stdlib only."""
import json, os, random

rng = random.Random(42)
DIM, N, Q, CLUSTERS = 16, 300, 20, 6
topics = ["kitchen", "garage", "garden", "office", "hallway", "bedroom"]
centers = [[rng.gauss(0, 1) for _ in range(DIM)] for _ in range(CLUSTERS)]
out = os.path.join(os.path.dirname(__file__), "..", "testdata")
with open(os.path.join(out, "sample.jsonl"), "w") as f:
    for i in range(N):
        c = rng.randrange(CLUSTERS)
        vec = [round(x + rng.gauss(0, 0.3), 4) for x in centers[c]]
        rec = {"id": f"mem-{i:04d}", "vector": vec,
               "payload": {"room": topics[c], "seen": i}, "importance": round(rng.random(), 3)}
        f.write(json.dumps(rec) + "\n")
with open(os.path.join(out, "sample_queries.jsonl"), "w") as f:
    for i in range(Q):
        c = rng.randrange(CLUSTERS)
        vec = [round(x + rng.gauss(0, 0.3), 4) for x in centers[c]]
        f.write(json.dumps({"id": f"q{i:02d}", "vector": vec}) + "\n")
