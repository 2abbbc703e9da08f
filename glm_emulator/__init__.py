"""A local, deterministic imitation of Zhipu's GLM chat-completions endpoint.

It exists so that integration tests, vcrpy cassettes and the cookbook's recordings can be made
with no internet and no API key. Its answers are rule-based placeholders, never real model
output; only the wire shapes (framing, key order, ids, usage, error bodies) imitate the real
API. A development package of the repository (not in the wheel); see README.md.

- :func:`glm_emulator.logic.respond` maps a request body to an ``EmulatedResponse``.
- :func:`glm_emulator.server.running_emulator` serves it on a loopback port.
- :mod:`glm_emulator.frames` builds GLM chunks, bodies and SSE bytes: the emulator answers
  with it, and the tests, the fault server and the benchmark build theirs with it.

The package face imports nothing: importing one module costs only that module.
"""
