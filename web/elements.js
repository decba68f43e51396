// Builds elements from data without HTML parsing: text only through textContent and attributes,
// so an object key such as `<img src=x onerror=alert(1)>.jpg` stays text.

export function make(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

let announcer = null;

// The page's one live region: result counts, sign-in problems, load failures.
export function announce(message) {
  announcer ??= document.getElementById("status");
  announcer.textContent = message;
}

export function percent(confidence) {
  return `${Number(confidence).toFixed(1)}%`;
}

export function itemHash(key) {
  return `#/item?${new URLSearchParams({ key })}`;
}

export function searchHash(labels, minConfidence) {
  const query = new URLSearchParams();
  for (const label of labels) query.append("label", label);
  if (minConfidence !== undefined && minConfidence !== null && minConfidence !== "") {
    query.set("min_confidence", minConfidence);
  }
  return `#/search?${query}`;
}
