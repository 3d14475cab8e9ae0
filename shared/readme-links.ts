/**
 * README sections that messages send a reader to: the heading as it reads, and the
 * anchor GitHub gives it (test/shared/readme-links.test.ts checks both against README.md).
 */
export const README_CONTEXT_DIGEST =
  'README "The context digest" (README.md#the-context-digest)';
