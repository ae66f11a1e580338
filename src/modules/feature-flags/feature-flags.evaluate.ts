/**
 * Deciding a flag for a principal. Pure, apart from hashing:
 *
 * 1. disabled → off for everyone (the kill switch wins over allow lists);
 * 2. the user is on `allow_user_ids`, or one of their organizations (an API key's
 *    own organization) is on `allow_org_ids` → on, whatever the rollout;
 * 3. otherwise on when the principal's bucket, SHA-256(`<flag>:<id>`) read as an
 *    unsigned 32-bit integer mod 100, is below `rollout_percentage`.
 *
 * The bucket depends only on the flag and the id, so a principal keeps its answer
 * across requests and isolates, and raising the percentage only adds principals
 * (everyone in at 30 % is still in at 50 %). Keying by flag as well means the first
 * 30 % of one flag are not the first 30 % of every flag.
 */
import type { FeatureFlag } from "../../db/schema";

export type FlagSubject = {
  /** What the rollout hashes: the user id for people, the organization id for API keys. */
  bucketId: string | null;
  userId: string | null;
  orgIds: readonly string[];
};

export async function rolloutBucket(flagKey: string, id: string): Promise<number> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${flagKey}:${id}`));
  return new DataView(digest).getUint32(0) % 100;
}

export async function evaluateFlag(
  flag: Pick<FeatureFlag, "key" | "enabled" | "rolloutPercentage" | "allowUserIds" | "allowOrgIds">,
  subject: FlagSubject,
): Promise<boolean> {
  if (!flag.enabled) return false;
  if (subject.userId && flag.allowUserIds.includes(subject.userId)) return true;
  if (subject.orgIds.some((id) => flag.allowOrgIds.includes(id))) return true;
  if (flag.rolloutPercentage >= 100) return true;
  if (flag.rolloutPercentage <= 0 || !subject.bucketId) return false;
  return (await rolloutBucket(flag.key, subject.bucketId)) < flag.rolloutPercentage;
}
