// The sample shop front: loads the catalogue, keeps a cart in localStorage, and shows which
// app version served it (from the edge's x-switchyard-version header).
const money = new Intl.NumberFormat("en-IE", { style: "currency", currency: "EUR" });
const cart = JSON.parse(localStorage.getItem("cart") || "{}");
let products = [];

function save() {
  localStorage.setItem("cart", JSON.stringify(cart));
  render();
}

function render() {
  const lines = Object.entries(cart).filter(([, qty]) => qty > 0);
  document.getElementById("cart-count").textContent = String(lines.reduce((n, [, q]) => n + q, 0));
  const list = document.getElementById("cart-lines");
  list.replaceChildren();
  let total = 0;
  for (const [id, qty] of lines) {
    const p = products.find((x) => x.id === id);
    if (!p) continue;
    total += p.price * qty;
    const li = document.createElement("li");
    li.textContent = `${qty} × ${p.name}`;
    list.append(li);
  }
  document.getElementById("cart-total").textContent = money.format(total);
}

async function main() {
  const res = await fetch("/products.json");
  document.getElementById("served-by").textContent =
    `${res.headers.get("x-switchyard-app") ?? "?"} ${res.headers.get("x-switchyard-version") ?? "?"}`;
  products = await res.json();
  const grid = document.getElementById("products");
  for (const p of products) {
    const li = document.createElement("li");
    li.className = "card";
    const name = document.createElement("h3");
    name.textContent = p.name;
    const price = document.createElement("p");
    price.textContent = money.format(p.price);
    const add = document.createElement("button");
    add.type = "button";
    add.textContent = "Add to cart";
    add.dataset.product = p.id;
    add.addEventListener("click", () => {
      cart[p.id] = (cart[p.id] || 0) + 1;
      save();
    });
    li.append(name, price, add);
    grid.append(li);
  }
  document.getElementById("status").textContent = `${products.length} products`;
  document.getElementById("cart-button").addEventListener("click", () => {
    const section = document.getElementById("cart");
    section.hidden = !section.hidden;
  });
  render();
}

main().catch((err) => {
  document.getElementById("status").textContent = `Could not load products: ${err}`;
});
