"""The parts of the grading command (``python -m deepfm_lite progress``, in
:mod:`deepfm_lite.course.progress`):

* :mod:`.channel`: how a check's verdict reaches the grader (from the check's recorded result,
  through a message of the grader's own cell, never from printed text), and its limits;
* :mod:`.sandbox` and :mod:`.launcher`: the limits a submission's kernel runs under (time,
  memory, a folder of its own, no network, another user, hidden home folders) and what is not
  isolated;
* :mod:`.report`: the grades, and how they are shown (a terminal table, or JSON).
"""
