"""A server's first Watch it read page after a restart imports no torch (a second of its time): the page needs
only the models' headers and the links to their weights, both kept between runs (explorer.model.catalog), and
the view runs the model in the browser. Each run here is a fresh Python process, as a restarted server is."""

import json
import os
import subprocess
import sys
from pathlib import Path

APP = str(Path(__file__).resolve().parents[2] / "explorer" / "app.py")

# One page open in a new process: its errors, whether torch got imported, and torch's intra-op threads then.
PROBE = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
for key, value in json.loads(sys.argv[3]).items():
    at.query_params[key] = value
at.switch_page(sys.argv[2]).run()
out = {"errors": [str(e.value) for e in at.exception] + [e.value for e in at.error], "torch": "torch" in sys.modules}
if out["torch"]:
    out["threads"] = sys.modules["torch"].get_num_threads()
print(json.dumps(out))
"""


def open_page(page: str, **query) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # app.py sets it
    done = subprocess.run(
        [sys.executable, "-c", PROBE, APP, page, json.dumps(query)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_restarted_servers_watch_page_imports_no_torch_and_a_page_that_does_gets_one_thread():
    first = open_page("../pages/watch.py", compare_on="1")  # a new home: the headers checked, the blobs made
    assert first == {"errors": [], "torch": True, "threads": 1}
    assert open_page("../pages/watch.py", compare_on="1") == {"errors": [], "torch": False}
    assert open_page("../pages/watch.py", model="gru-128") == {"errors": [], "torch": True, "threads": 1}  # new
    assert open_page("../pages/watch.py", model="gru-128", present="1") == {"errors": [], "torch": False}
    # The probe sees torch where a page imports it: the Gradients page computes on the server.
    assert open_page("../pages/gradients.py") == {"errors": [], "torch": True, "threads": 1}
