/** The problems every upload-URL flow answers alike (organization files, large avatars). */
import { ProblemError } from "../problem";

export const uploadAlreadyReceived = () =>
  new ProblemError({
    status: 409,
    code: "upload_already_received",
    detail: "This upload URL was already used: the bytes are stored. Complete the upload.",
  });

export const uploadNotReceived = () =>
  new ProblemError({
    status: 409,
    code: "upload_not_received",
    detail: "Nothing was uploaded yet: PUT the bytes to the upload URL first.",
  });
