/** Devices per user: more than anyone carries, few enough that one notification is one job. */
export const MAX_PUSH_SUBSCRIPTIONS_PER_USER = 20;
