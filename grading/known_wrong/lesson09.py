"""Lesson 09's known-wrong answers (train_challenge and the quiz): typical mistakes, as exercise cells.

Plain data, read by grading/catalogue.py. Each entry is one mistake: `exercise`, the exercise
cell's id (and the function's name); `label`; `source`, the whole cell a student would hand in
(self-contained: its imports and helpers included); `words`, what the checker's diagnosis must
say ("" when it only has to fail). tests/test_checks_lesson09.py runs each one through its
checker; the class-grading tests autograde whole submissions built from them.
"""

LESSON = "09_tuning"

MISTAKES = [
    {
        "exercise": "train_challenge",
        "label": "over budget",
        "words": "more than its budget",
        "source": """\
import torch
import torch.nn.functional as F
from course_utils.models import MLP

def _sgd_run(data, generator, batch_size=100, lr=0.002, optimizer='adam', steps=None):
    model = MLP(hidden=(128,))
    opt = (torch.optim.Adam(model.parameters(), lr=lr) if optimizer == 'adam'
           else torch.optim.SGD(model.parameters(), lr=lr))
    for _ in range(steps if steps is not None else data.budget // batch_size):
        xb, yb = data.batch(torch.randint(0, data.n, (batch_size,), generator=generator))
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    return model

def train_challenge(d, g):
    return _sgd_run(d, g, steps=d.budget // 100 + 1)
""",
    },
    {
        "exercise": "train_challenge",
        "label": "plain SGD at a small learning rate",
        "words": "below the 96.5%",
        "source": """\
import torch
import torch.nn.functional as F
from course_utils.models import MLP

def _sgd_run(data, generator, batch_size=100, lr=0.002, optimizer='adam', steps=None):
    model = MLP(hidden=(128,))
    opt = (torch.optim.Adam(model.parameters(), lr=lr) if optimizer == 'adam'
           else torch.optim.SGD(model.parameters(), lr=lr))
    for _ in range(steps if steps is not None else data.budget // batch_size):
        xb, yb = data.batch(torch.randint(0, data.n, (batch_size,), generator=generator))
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    return model

def train_challenge(d, g):
    return _sgd_run(d, g, lr=0.01, optimizer='sgd', steps=50)
""",
    },
    {
        "exercise": "train_challenge",
        "label": "Adam at torch's defaults",
        "words": "below the 96.5%",
        "source": """\
import torch
import torch.nn.functional as F
from course_utils.models import MLP

def train_challenge(data, generator):
    model = MLP(hidden=(128,))
    opt = torch.optim.Adam(model.parameters())
    for _ in range(data.budget // 100):
        xb, yb = data.batch(torch.randperm(data.n, generator=generator)[:100])
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    return model
""",
    },
    {
        "exercise": "train_challenge",
        "label": "returns nothing",
        "words": "return the trained model",
        "source": """\
def train_challenge(d, g):
    return None
""",
    },
    {
        "exercise": "train_challenge",
        "label": "wrong output",
        "words": "expected (10000, 10)",
        "source": """\
def train_challenge(d, g):
    return lambda x: x[:, :3]
""",
    },
    {
        "exercise": "quiz_q1",
        "label": "quiz q1 answered c",
        "words": "not the right answer",
        "source": """\
def quiz_q1():
    return "c"
""",
    },
    {
        "exercise": "quiz_q2",
        "label": "quiz q2 answered d",
        "words": "not the right answer",
        "source": """\
def quiz_q2():
    return "d"
""",
    },
    {
        "exercise": "quiz_q3",
        "label": "quiz q3 answered b",
        "words": "not the right answer",
        "source": """\
def quiz_q3():
    return "b"
""",
    },
    {
        "exercise": "quiz_q4",
        "label": "quiz q4 answered b",
        "words": "not the right answer",
        "source": """\
def quiz_q4():
    return "b"
""",
    },
    {
        "exercise": "quiz_q5",
        "label": "quiz q5 answered d",
        "words": "not the right answer",
        "source": """\
def quiz_q5():
    return "d"
""",
    },
    {
        "exercise": "quiz_q6",
        "label": "quiz q6 answered b",
        "words": "not the right answer",
        "source": """\
def quiz_q6():
    return "b"
""",
    },
    {
        "exercise": "quiz_q7",
        "label": "quiz q7 answered b",
        "words": "not the right answer",
        "source": """\
def quiz_q7():
    return "b"
""",
    },
    {
        "exercise": "quiz_q8",
        "label": "quiz q8 answered c",
        "words": "not the right answer",
        "source": """\
def quiz_q8():
    return "c"
""",
    },
    {
        "exercise": "quiz_q9",
        "label": "quiz q9 answered a",
        "words": "not the right answer",
        "source": """\
def quiz_q9():
    return "a"
""",
    },
    {
        "exercise": "quiz_q10",
        "label": "quiz q10 answered c",
        "words": "not the right answer",
        "source": """\
def quiz_q10():
    return "c"
""",
    },
]
