// A small, local renderer of the OpenAPI document (no CDN, no framework).
(async function () {
  const box = document.getElementById("ops");
  const token = sessionStorage.getItem("detente-token");  // typed into the app's page, when the server needs one
  const r = await fetch("/openapi.json", { headers: token ? { Authorization: "Bearer " + token } : {} });
  if (!r.ok) {
    box.textContent = r.status === 401 ? "This server needs its access token: open the app's page first and type it there."
                                       : `cannot load /openapi.json (HTTP ${r.status})`;
    return;
  }
  const spec = await r.json();
  const schemas = (spec.components || {}).schemas || {};
  const ref = (s) => (s && s.$ref ? schemas[s.$ref.split("/").pop()] || s : s);
  function shape(s, depth) {
    s = ref(s);
    if (!s || depth > 2) return "…";
    if (s.properties) {
      const out = {};
      for (const [k, v] of Object.entries(s.properties)) out[k] = shape(v, depth + 1);
      return out;
    }
    if (s.anyOf) return s.anyOf.map((x) => (ref(x).type || "object")).join(" | ");
    if (s.type === "array") return [shape(s.items, depth + 1)];
    return s.type || "any";
  }
  box.textContent = "";
  const tags = {};
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const t = (op.tags || ["other"])[0];
      (tags[t] = tags[t] || []).push([path, method, op]);
    }
  }
  for (const [tag, list] of Object.entries(tags)) {
    const h = document.createElement("h2");
    h.textContent = tag;
    box.appendChild(h);
    for (const [path, method, op] of list) {
      const d = document.createElement("details");
      d.className = "op";
      const s = document.createElement("summary");
      s.innerHTML = `<span class="method ${method}">${method.toUpperCase()}</span><code></code> <span class="muted"></span>`;
      s.querySelector("code").textContent = path;
      s.querySelector(".muted").textContent = op.summary || "";
      d.appendChild(s);
      const info = {};
      if (op.parameters) info.parameters = op.parameters.map((p) => `${p.name} (${p.in})`);
      const body = op.requestBody && op.requestBody.content;
      if (body) {
        const c = body["application/json"] || body["multipart/form-data"];
        info.body = shape(c.schema, 0);
      }
      info.responses = Object.keys(op.responses || {});
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify(info, null, 2);
      d.appendChild(pre);
      box.appendChild(d);
    }
  }
})();
