// Counts visits in KV and serves objects from R2 under /assets/.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/assets/")) {
      const object = await env.ASSETS.get(url.pathname.slice("/assets/".length));
      return object ? new Response(object.body) : new Response("not found", { status: 404 });
    }
    const visits = Number((await env.CACHE.get("visits")) ?? "0") + 1;
    await env.CACHE.put("visits", String(visits));
    return new Response(`Hello from ${env.STAGE}: visit ${visits}\n`);
  },
};
