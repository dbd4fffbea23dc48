-- The receipt-anchored evidence bundle, built by the chain side once the settlement is final.
ALTER TABLE settlements ADD COLUMN bundle TEXT;
