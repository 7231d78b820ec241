"""The course aids: what the notebooks use beside the library, imported by name
(``from deepfm_lite.course import quiz, plots``).

=====================  =====================================================================
``quiz``               the quizzes (``quiz_core``: the bank in ``quiz_bank/``, checking, text)
``checks``             the exercises' self-checks, one module per exercise
``progress``           the grading command (``grading/``: verdicts, the sandbox)
``interview``          Table 1's probes and the interview questions; ``mock_interview`` the
                       mock interview (content in ``interview_bank/``)
``playground``         live "what if" runs for class
``plots``, ``explore``, ``analysis``, ``timing``    the chapters' figures, tables and measurements
``budget``             what every chapter trains with (``train_model``)
=====================  =====================================================================

Importing the course aids sets torch to one CPU thread. The course's models are small: on a
quiet two-core computer one thread costs notebook 05 about a fifth more time than two, but
while another program keeps one core busy, two threads made notebook 00 run many times slower
and one thread kept both notebooks at their quiet time (``python scripts/run_notebooks.py
--time --busy``). Call ``torch.set_num_threads(n)`` after the imports to choose otherwise.
"""

import torch

torch.set_num_threads(1)
