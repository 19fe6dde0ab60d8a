// The generated types (schema.d.ts) with openapi-fetch: every path, parameter, body and answer is
// checked by the compiler. `tsc --noEmit --strict` must pass on this file (the tests run it).
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Task = components["schemas"]["TaskRead"];
export type FieldError = components["schemas"]["ValidationError"];

/** A client for one user. `getToken` returns a fresh JWT, e.g. from Better Auth's `authClient.token()`. */
export function todoClient(baseUrl: string, getToken: () => Promise<string>) {
  const auth: Middleware = {
    async onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${await getToken()}`);
      return request;
    },
  };
  const client = createClient<paths>({ baseUrl });
  client.use(auth);
  return client;
}

/** What to show the user for any error body: 422 lists fields, every other error has a message. */
export function describe(error: { detail?: string | FieldError[] }): string {
  if (typeof error.detail === "string") return error.detail;
  return (error.detail ?? []).map((field) => `${field.loc.slice(1).join(".")}: ${field.msg}`).join("; ");
}

export async function walkThrough(api: ReturnType<typeof todoClient>, userId: string): Promise<Task[]> {
  const path = { user_id: userId };

  // list (paged: X-Total-Count and Link are exposed to browsers by CORS)
  const listed = await api.GET("/api/{user_id}/tasks", {
    params: { path, query: { limit: 20, completed: false, sort: "-updated_at" } },
  });
  if (listed.error) throw new Error(describe(listed.error));
  const total: number = Number(listed.response.headers.get("X-Total-Count"));
  console.log(`${listed.data.length} of ${total}`, listed.response.headers.get("Link"));

  // create, with a priority, tags and a due time given as wall-clock time in the user's zone; the
  // Idempotency-Key makes a retry after a lost answer return this same task, never a second one
  const created = await api.POST("/api/{user_id}/tasks", {
    params: { path, header: { "Idempotency-Key": crypto.randomUUID() } },
    body: {
      title: "Buy groceries",
      description: "Milk, eggs",
      priority: "high",
      tags: ["home", "errands"],
      due_date: "2026-12-04T17:00", // what <input type="datetime-local"> gives
      time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone as Task["time_zone"],
    },
  });
  if (created.error) throw new Error(describe(created.error));
  const task: Task = created.data;
  console.log(task.due_date, task.priority, task.tags.join(", ")); // due_date in UTC

  // filtered and sorted: my open urgent or high tasks tagged "home", soonest due first
  const urgent = await api.GET("/api/{user_id}/tasks", {
    params: {
      path,
      query: { status: "pending", priority: "high,urgent", tag: "home", sort: "due_date", limit: 50 },
    },
  });
  if (urgent.error) throw new Error(describe(urgent.error));
  const overdue = await api.GET("/api/{user_id}/tasks", { params: { path, query: { overdue: true } } });
  console.log(`${urgent.data.length} urgent, ${overdue.data?.length ?? 0} overdue`);

  // the tags, with their counts, for a filter menu
  const tags = await api.GET("/api/{user_id}/tags", { params: { path } });
  for (const { name, count } of tags.data ?? []) console.log(`#${name} (${count})`);
  const taskPath = { user_id: userId, task_id: task.id };

  // update (PUT: title required; If-Match makes it safe against someone else's edit)
  const updated = await api.PUT("/api/{user_id}/tasks/{task_id}", {
    params: { path: taskPath, header: { "if-match": created.response.headers.get("ETag") } },
    body: { title: "Buy organic groceries" },
  });
  if (updated.response.status === 412) console.log("changed elsewhere: reload it");
  else if (updated.error) throw new Error(describe(updated.error));

  // toggle completed
  const toggled = await api.PATCH("/api/{user_id}/tasks/{task_id}/complete", { params: { path: taskPath } });
  if (toggled.error) throw new Error(describe(toggled.error));
  const done: boolean = toggled.data.completed;
  console.log(done ? "done" : "open");

  // a 422: `detail` lists each field that failed, with its location and message
  const invalid = await api.POST("/api/{user_id}/tasks", { params: { path }, body: { title: "" } });
  if (invalid.response.status === 422 && invalid.error) {
    const fields: FieldError[] = Array.isArray(invalid.error.detail) ? invalid.error.detail : [];
    for (const field of fields) console.log(field.loc.join("."), field.msg); // body.title: String should ...
    console.log(describe(invalid.error));
  }

  // delete (204, no body)
  const deleted = await api.DELETE("/api/{user_id}/tasks/{task_id}", { params: { path: taskPath } });
  if (deleted.error) throw new Error(describe(deleted.error));

  const all = await api.GET("/api/{user_id}/tasks", { params: { path } });
  return all.data ?? [];
}
