-- A distillation job's held-out metric (student/scripts/distill.py): the student's mean per-token
-- KL(teacher ‖ student) over the answers of the rows held out of its training data, on the step lines of
-- its checkpoint steps. NULL on other steps and for other jobs.
ALTER TABLE train_metrics ADD COLUMN heldout_kl REAL;
