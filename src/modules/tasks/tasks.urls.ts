/** Where a task lives in the API: the `Location` of a new task, notification links, export download links. */
export const taskPath = (id: string) => `/api/v1/tasks/${id}`;
