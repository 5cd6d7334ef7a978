// A real OpenID provider for the tests: the `oidc-provider` package (npm registry), run by Node.
// Usage: node provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI ACCOUNTS_JSON
// ACCOUNTS_JSON maps a login name to its claims, e.g. {"zhang": {"name": "张伟", "groups": [...]}}.
// Any password signs in (the provider's development login form); the claims come from here.
import Provider from "oidc-provider";

const [port, clientId, clientSecret, redirectUri, accountsJson] = process.argv.slice(2);
const accounts = JSON.parse(accountsJson);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  claims: {
    openid: ["sub"],
    profile: ["name", "preferred_username", "groups", "district"],
  },
  conformIdTokenClaims: false, // claims of the requested scopes go into the ID token too
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["plantrack-test-cookie-key"] },
  async findAccount(ctx, id) {
    const known = accounts[id];
    if (!known) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: `sub-${id}`, preferred_username: id, ...known };
      },
    };
  },
});
provider.proxy = false;
provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`listening ${issuer}`);
});
