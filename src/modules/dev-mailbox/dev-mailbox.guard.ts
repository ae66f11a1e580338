import { switchedOn } from "../../middleware/switched-on";

/** Where the mailbox is off, its routes answer exactly like a path that does not exist. */
export const devMailboxEnabled = switchedOn((config) => config.DEV_MAILBOX_ENABLED);
