/*
 * Auditing moved to the warehouse service; this release had nothing to run.
 * (/* nested comments are fine */ and so is a ; here)
 */
