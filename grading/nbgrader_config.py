"""nbgrader configuration for the course; the course directory is this folder.

Each lesson solutions/NN_name.ipynb is the assignment NN_name (tools/release.py
copies it to source/NN_name/ and generates release/NN_name/).
"""

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "optim-mnist"
c.CourseDirectory.root = "."

# The stub students see in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Seconds a cell may run while grading: well above the slowest solution cell
# (a lesson runs in under 60 s in all), so an endless loop costs only its cell.
c.Execute.timeout = 180
c.Execute.interrupt_on_timeout = True
