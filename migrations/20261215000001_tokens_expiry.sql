-- Fewer b-trees per issued token (issue 24). Every index of `tokens` is one more page
-- each group commit of tokens writes; the index of expiry times served only pruning,
-- which now walks the table from its oldest row (tokens are stored in the order they
-- were issued, and a token expired before a cutoff was issued before it).
DROP INDEX tokens_expiry;
