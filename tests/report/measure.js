// Reads the rendered report as a person sees it: figures, bar sizes, anything off-screen.
(() => {
  const vw = document.documentElement.clientWidth;
  const box = (e) => {
    const r = e.getBoundingClientRect();
    const s = getComputedStyle(e);
    const visible = r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
    return {left: r.left, right: r.right, width: r.width, height: r.height, visible};
  };
  const participation = {};
  for (const tr of document.querySelectorAll("#participation-table tbody tr")) {
    const cells = [...tr.querySelectorAll("td")];
    participation[tr.dataset.group] = Object.fromEntries(
      cells.map((td) => [td.dataset.col, {text: td.innerText.trim(), ...box(td)}]));
  }
  const pulse = {};
  for (const tr of document.querySelectorAll("table.answers[data-flow=pulse] tbody tr")) {
    const td = tr.querySelector("td[data-col=positive]");
    pulse[tr.dataset.group] = {text: td.innerText.trim(), ...box(td)};
  }
  const bars = [...document.querySelectorAll("svg.bar[data-kind=theme]")].map((svg) => {
    const fill = svg.querySelector("rect.fill");
    const fillWidth = fill ? fill.getBoundingClientRect().width : 0;
    return {group: svg.dataset.group, value: Number(svg.dataset.value), ...box(svg), fill: fillWidth};
  });
  const name = (e) => `${e.tagName}.${e.getAttribute("class") || ""}#${e.id}`;
  const all = [...document.querySelectorAll("body *")];
  const offscreen = all.filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5);
  }).map(name);
  // Text wider than its box (e.g. a nowrap label) overflows without moving the box itself.
  const spilling = all.filter((e) => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1
    && getComputedStyle(e).overflowX === "visible").map(name);
  const head = document.querySelector("#participation-table thead");
  return {
    vw, scrollWidth: document.documentElement.scrollWidth, participation, pulse, bars,
    offscreen, spilling, headerShown: getComputedStyle(head).display !== "none",
    text: document.body.innerText,
  };
})()
