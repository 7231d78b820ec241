"""The course trains on one CPU thread (deepfm_lite/course/__init__.py says why); the library
alone leaves torch's threads as they are."""

import subprocess
import sys

CODE = ("import torch; torch.set_num_threads(2); import deepfm_lite; a = torch.get_num_threads(); "
        "import deepfm_lite.course; print(a, torch.get_num_threads())")


def test_importing_the_course_aids_sets_one_thread_and_the_library_does_not():
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["2", "1"]
