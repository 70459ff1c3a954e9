// Creates the application's MongoDB user: readWrite on the application database only, never root.
//
// The mongo image runs this once, as root, when it initialises an empty data volume
// (/docker-entrypoint-initdb.d). It is idempotent, so it can also be run again to apply a new password
// (see docs/deployment.md):
//   docker compose exec database sh -c 'mongosh --quiet -u root -p "$(cat /run/secrets/database_root_password)" \
//       --authenticationDatabase admin /docker-entrypoint-initdb.d/create-app-user.js'
//
// Reads APP_DATABASE_NAME, APP_DATABASE_USERNAME and the password file named by APP_DATABASE_PASSWORD_FILE
// (a Docker secret), the same values the backend connects with.
const fs = require("fs");

function required(name) {
  const value = (process.env[name] || "").trim();
  if (!value) {
    throw new Error(`create-app-user.js: ${name} is not set`);
  }
  return value;
}

const databaseName = required("APP_DATABASE_NAME");
const username = required("APP_DATABASE_USERNAME");
// Trimmed like the backend trims secret files, so a trailing newline never becomes part of the password.
const password = fs.readFileSync(required("APP_DATABASE_PASSWORD_FILE"), "utf8").trim();
if (!password) {
  throw new Error("create-app-user.js: the application database password file is empty");
}

// The user lives in the application database: the backend authenticates with authSource=<database>.
const appDatabase = db.getSiblingDB(databaseName);
const roles = [{ role: "readWrite", db: databaseName }];
if (appDatabase.getUser(username) === null) {
  appDatabase.createUser({ user: username, pwd: password, roles: roles });
  print(`created the application user ${username} (readWrite on ${databaseName})`);
} else {
  appDatabase.updateUser(username, { pwd: password, roles: roles });
  print(`updated the application user ${username} (readWrite on ${databaseName})`);
}
