"""Settings for every pytest run (unit tests and nbval alike), set before any kernel starts.

The notebooks were saved with these settings, and nbval compares against those outputs, so
they are forced rather than defaulted: no progress bars, English quizzes, instructor mode off.
"""

import os

os.environ.update(DEEPFM_LITE_PROGRESS="0", DEEPFM_LITE_LANG="en", DEEPFM_LITE_INSTRUCTOR="0")

# notebooks/exercises and notebooks/solutions are links to the top-level folders, so that
# `jupyter lab notebooks/` shows them; collect each notebook once, from its own folder.
collect_ignore = ["notebooks/exercises", "notebooks/solutions"]
