// The upload view: files dropped or chosen go to the image bucket through presigned URLs
// (POST /api/uploads, then one PUT or the parts of a multipart upload), with progress per file,
// then their status until the labeller has LABELLED or FAILED them.
import { apiGet, apiPost, NotFound } from "./api.js";
import { itemHash, make, percent } from "./elements.js";

const TYPES = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", mp4: "video/mp4", mov: "video/quicktime" };
const PARTS_AT_ONCE = 3;
const POLL_MS = 2000;
const POLL_LIMIT_MS = 60 * 60 * 1000; // a long film takes Rekognition Video many minutes

export function fileType(file) {
  const suffix = file.name.split(".").pop().toLowerCase();
  return file.type || TYPES[suffix] || "application/octet-stream";
}

export function setUpUpload() {
  const zone = document.getElementById("drop-zone");
  const picker = document.getElementById("upload-files");
  picker.addEventListener("change", () => {
    uploadAll([...picker.files]);
    picker.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    uploadAll([...event.dataTransfer.files]);
  });
}

function uploadAll(files) {
  const list = document.getElementById("upload-list");
  for (const file of files) {
    const row = uploadRow(file);
    list.append(row.element);
    uploadOne(file, row);
  }
}

function uploadRow(file) {
  const progress = make("progress", { max: "100", value: "0", "aria-label": `Upload of ${file.name}` });
  const status = make("span", { className: "upload-status", text: "Waiting…" });
  const element = make("li", { className: "upload" }, make("span", { className: "upload-name", text: file.name }),
    progress, status);
  return {
    element,
    progress: (fraction) => { progress.value = Math.round(fraction * 100); },
    status: (text) => { status.textContent = text; },
    done: (item) => {
      status.replaceChildren(`${item.status}`, item.status === "FAILED" && item.error
        ? `: ${item.error.message || item.error.code}` : `: ${summary(item)}`, " ",
      make("a", { href: itemHash(item.key), text: `Show ${item.key}` }));
      element.classList.add(item.status === "FAILED" ? "failed" : "labelled");
    },
  };
}

function summary(item) {
  const labels = (item.labels || []).slice(0, 5).map((label) => `${label.name} ${percent(label.confidence)}`);
  return labels.length ? labels.join(", ") : "no labels";
}

async function uploadOne(file, row) {
  try {
    row.status("Uploading…");
    const plan = await apiPost("/uploads", { name: file.name, size: file.size, type: fileType(file) });
    const versionId = plan.method === "PUT"
      ? (await putBody(plan.url, file, plan.headers || {}, row.progress)).versionId
      : await uploadParts(file, plan, row.progress);
    row.progress(1);
    row.status("Uploaded; waiting for its labels…");
    row.done(await labelled(plan.key, versionId));
  } catch (error) {
    row.status(`Not uploaded: ${error.message}`);
    row.element.classList.add("failed");
  }
}

async function uploadParts(file, plan, progress) {
  const loaded = new Array(plan.parts.length).fill(0);
  const report = () => progress(loaded.reduce((sum, one) => sum + one, 0) / file.size);
  const etags = [];
  let next = 0;
  async function worker() {
    while (next < plan.parts.length) {
      const index = next++;
      const part = plan.parts[index];
      const start = (part.number - 1) * plan.part_size;
      const body = file.slice(start, Math.min(start + plan.part_size, file.size));
      const { etag } = await putBody(part.url, body, {}, (fraction) => {
        loaded[index] = fraction * body.size;
        report();
      });
      etags[index] = { number: part.number, etag };
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(PARTS_AT_ONCE, plan.parts.length) }, worker));
    return (await apiPost("/uploads/complete", { key: plan.key, upload_id: plan.upload_id, parts: etags })).version_id;
  } catch (error) {
    // Stored parts cost money until the upload is completed or aborted.
    await apiPost("/uploads/abort", { key: plan.key, upload_id: plan.upload_id }).catch(() => {});
    throw error;
  }
}

// One PUT to a presigned URL with upload progress; resolves with the ETag and version id S3 answered.
function putBody(url, body, headers, progress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) {
        resolve({ etag: request.getResponseHeader("ETag"), versionId: request.getResponseHeader("x-amz-version-id") });
      } else reject(new Error(`the bucket answered ${request.status}`));
    });
    request.addEventListener("error", () => reject(new Error("the connection to the bucket failed")));
    request.send(body);
  });
}

// The item once the labeller has finished with this upload's version: a key uploaded again keeps
// the earlier version's LABELLED item until then. Without a version id (a bucket that does not
// keep versions, "null") any finished item is taken.
async function labelled(key, versionId) {
  const until = Date.now() + POLL_LIMIT_MS;
  const known = versionId && versionId !== "null";
  while (Date.now() < until) {
    try {
      // With the version, the API answers WAITING (not 404, nor the earlier version's item) until
      // the labeller has recorded this version.
      const item = await apiGet("/item", { key, version_id: known ? versionId : undefined });
      if (item.status === "LABELLED" || item.status === "FAILED") return item;
    } catch (error) {
      if (!(error instanceof NotFound)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error("no labels after an hour; look at it again later");
}
