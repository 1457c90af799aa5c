"""`grade.py collect` takes only real folders and regular files inside the inbox, under safe ids.

A hostile inbox: a student folder that is a symbolic link into the course's source/ (it would
get the instructor's solution graded as the student's), a folder named `*` (passed to nbgrader,
a glob that regrades the class), a notebook that is a link to a file elsewhere, a lesson folder
that is a link, a FIFO where a notebook should be. Each is refused and listed; the honest
students are collected; nothing is read through a link. Also a folder where a notebook should be
(it stopped the whole collect) and a hard link to the instructor's notebook.
"""

from __future__ import annotations

import os

import nbformat

from grading.grade import collect

LESSON = "01_demo"


def _notebook(text: str) -> str:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)]))


def test_collect_refuses_links_and_unsafe_ids(tmp_path, capsys):
    source = tmp_path / "source_notebooks"
    source.mkdir()
    (source / f"{LESSON}.ipynb").write_text(_notebook("# the instructor's solution"))
    secret = tmp_path / "secret.ipynb"  # outside the inbox
    secret.write_text(_notebook("# a file the inbox must not reach"))
    course, inbox = tmp_path / "course", tmp_path / "inbox"
    course.mkdir()

    def student(name: str, text: str = "# mine") -> os.PathLike:
        (inbox / name).mkdir(parents=True)
        path = inbox / name / f"{LESSON}.ipynb"
        path.write_text(_notebook(text))
        return path

    student("alice")
    student("bob.smith-2")
    (inbox / "mallory").symlink_to(source)  # a student folder that is a link
    student("*")  # a glob
    student("..hidden")
    (inbox / "eve").mkdir()
    (inbox / "eve" / f"{LESSON}.ipynb").symlink_to(secret)  # a notebook that is a link
    (inbox / "trudy").mkdir()
    (inbox / "trudy" / LESSON).symlink_to(source)  # nbgrader's layout, the lesson folder a link
    (inbox / "fifo").mkdir()
    os.mkfifo(inbox / "fifo" / f"{LESSON}.ipynb")  # opening it would block a careless reader
    (inbox / "folder" / f"{LESSON}.ipynb").mkdir(parents=True)  # it stopped the whole collect
    (inbox / "linker").mkdir()
    os.link(source / f"{LESSON}.ipynb", inbox / "linker" / f"{LESSON}.ipynb")  # a hard link
    (inbox / "notes.txt").write_text("not a student")

    refused = collect(course, inbox, LESSON, source)

    submitted = sorted(
        p.relative_to(course / "submitted").as_posix() for p in (course / "submitted").rglob("*.ipynb*")
    )
    assert submitted == [f"alice/{LESSON}/{LESSON}.ipynb", f"bob.smith-2/{LESSON}/{LESSON}.ipynb"]
    said = "\n".join(refused)
    for name in ("mallory", "'*'", "'..hidden'", "eve/", "trudy/", "fifo/", "folder/", "linker/"):
        assert name in said, (name, said)
    assert "not a regular file" in said and "a hard link to" in said
    assert len(refused) == 8
    out = capsys.readouterr().out
    assert "refused 8 entries" in out and "then collect again" in out
    # nothing of the instructor's or the outside file came in
    for path in (course / "submitted").rglob("*.ipynb"):
        assert "instructor" not in path.read_text() and "must not reach" not in path.read_text()


def test_collect_never_writes_through_a_link(tmp_path):
    """A link left where the copy goes is replaced, not followed."""
    source = tmp_path / "src"
    source.mkdir()
    (source / f"{LESSON}.ipynb").write_text(_notebook("# solution"))
    course, inbox = tmp_path / "course", tmp_path / "inbox"
    (inbox / "alice").mkdir(parents=True)
    (inbox / "alice" / f"{LESSON}.ipynb").write_text(_notebook("# alice"))
    target = tmp_path / "precious.txt"
    target.write_text("must survive")
    dest = course / "submitted" / "alice" / LESSON
    dest.mkdir(parents=True)
    (dest / f"{LESSON}.ipynb.tmp").symlink_to(target)  # a stale link beside where the copy lands

    collect(course, inbox, LESSON, source)

    assert target.read_text() == "must survive"
    assert "# alice" in (dest / f"{LESSON}.ipynb").read_text()
    assert not (dest / f"{LESSON}.ipynb").is_symlink()
