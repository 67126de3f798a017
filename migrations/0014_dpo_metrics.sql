-- The DPO job's step metrics (student/scripts/dpo.py): the mean implicit rewards of the chosen and the
-- rejected answers, their margin, and the share of pairs whose chosen answer the policy ranks higher.
-- NULL for SFT steps.
ALTER TABLE train_metrics ADD COLUMN rewards_chosen REAL;
ALTER TABLE train_metrics ADD COLUMN rewards_rejected REAL;
ALTER TABLE train_metrics ADD COLUMN margin REAL;
ALTER TABLE train_metrics ADD COLUMN accuracy REAL;
