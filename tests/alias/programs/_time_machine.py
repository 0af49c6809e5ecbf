"""``d2l.TimeMachine`` read from ndgrad's copy of the text: d2l.download finds
``../data/timemachine.txt`` (its SHA-1 checks) in a scratch folder and downloads nothing."""

import importlib.util
import os
import shutil
import tempfile


def local_time_machine(d2l, **kwargs):
    """``d2l.TimeMachine(**kwargs)`` without a download."""
    text = os.path.join(
        importlib.util.find_spec("ndgrad").submodule_search_locations[0],
        "datasets",
        "data",
        "timemachine.txt",
    )
    tmp = tempfile.mkdtemp()
    try:
        os.makedirs(os.path.join(tmp, "data"))
        os.makedirs(os.path.join(tmp, "work"))
        shutil.copy(text, os.path.join(tmp, "data"))
        here = os.getcwd()
        os.chdir(os.path.join(tmp, "work"))
        try:
            return d2l.TimeMachine(**kwargs)
        finally:
            os.chdir(here)
    finally:
        shutil.rmtree(tmp)
