# The Admin Portal. `make dev` and `make test` install what they need (into .tools/).
SHELL := bash
.DEFAULT_GOAL := help
.PHONY: help tools web deploy-web dev jenkins alarm schedule test test-browser token signin openapi web-lifecycle lint build deploy bench load clean

PORT ?= 3000
ROLE ?= admin
SUB ?=
OUTCOME ?=
JOB ?=
TENANT ?=
NAME ?=
STATE ?= ALARM
TOOLS := .tools/venv/bin

help: ## list the targets and the variables they take
	@echo "Targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'
	@echo
	@echo "Variables (make <target> NAME=value), with their value now:"
	@printf '  %-13s %s\n' \
		'PORT=$(PORT)' 'port of the local API (make dev): http://127.0.0.1:$(PORT)' \
		'ROLE=$(ROLE)' 'role of the token (make token, make signin): admin, operator or viewer' \
		'SUB=$(SUB)' "the token's user, its sub (make token, make signin; default dev-<ROLE>)" \
		'OUTCOME=$(OUTCOME)' 'how the stand-in Jenkins ends builds (make jenkins): SUCCESS, FAILURE, hang...' \
		'JOB=$(JOB)' 'only builds of this Jenkins job (make jenkins; default every job without its own)' \
		'TENANT=$(TENANT)' "the tenant whose standard health alarm changes state (make alarm)" \
		'STATE=$(STATE)' 'the state the alarm goes to (make alarm): ALARM or OK' \
		'NAME=$(NAME)' 'the schedule that runs now (make schedule): backup, validate, metering or licenses'

tools: ## install the local tools (moto, cfn-lint, cargo-lambda, zig, asl-validator) into .tools/, and chromium when missing
	@bash tests/stack/bootstrap.sh

web: ## build the web portal into web/dist (npm ci from web/package-lock.json; types from openapi.json)
	@bash web/build.sh

dev: tools web ## local stack: moto + the API and the web portal on http://127.0.0.1:PORT with demo data (Ctrl-C stops all)
	@PORT=$(PORT) bash tests/stack/dev.sh

jenkins: ## while make dev runs: make jenkins OUTCOME=SUCCESS|FAILURE|hang [JOB=name] (no JOB: every job without its own)
	@[[ -n "$(OUTCOME)" ]] || { echo "usage: make jenkins OUTCOME=SUCCESS|UNSTABLE|FAILURE|ABORTED|NOT_BUILT|hang [JOB=name]" >&2; exit 2; }
	@url="$$(cat .dev/jenkins-url 2>/dev/null)"; \
	if [[ -z "$$url" ]] || ! curl -fsS -o /dev/null --max-time 2 "$$url/__admin/jobs" 2>/dev/null; then \
		echo "make jenkins: the stand-in Jenkins is not running: start the local stack with 'make dev' first" >&2; exit 1; \
	fi; \
	answer="$$(curl -sS --max-time 5 -X PATCH -H 'content-type: application/json' \
		-d '{"outcome": "$(OUTCOME)"}' -w '\n%{http_code}' "$$url/__admin/jobs$(if $(JOB),/$(JOB))")" || exit 1; \
	code="$${answer##*$$'\n'}"; body="$${answer%$$'\n'*}"; \
	if [[ "$$code" != 200 ]]; then echo "make jenkins: the stand-in Jenkins refused it: $$body" >&2; exit 1; fi; \
	echo "stand-in Jenkins ($$url): builds of $(if $(JOB),$(JOB),every job without its own behaviour) triggered from now on: $$body"

alarm: ## while make dev runs: make alarm TENANT=<id> [STATE=ALARM|OK] (the tenant's health alarm changes state)
	@[[ -n "$(TENANT)" ]] || { echo "usage: make alarm TENANT=<tenant id> [STATE=ALARM|OK]" >&2; exit 2; }
	@url="$$(cat .dev/events-url 2>/dev/null)"; \
	if [[ -z "$$url" ]] || ! curl -sS -o /dev/null --max-time 2 "$$url/" 2>/dev/null; then \
		echo "make alarm: the local stack is not running: start it with 'make dev' first" >&2; exit 1; \
	fi; \
	answer="$$(curl -sS --max-time 60 -X POST -H 'content-type: application/json' \
		-d '{"tenant_id": "$(TENANT)", "state": "$(STATE)"}' -w '\n%{http_code}' "$$url/__admin/alarms")" || exit 1; \
	code="$${answer##*$$'\n'}"; body="$${answer%$$'\n'*}"; \
	if [[ "$$code" != 200 ]]; then echo "make alarm: refused ($$code): $$body" >&2; exit 1; fi; \
	echo "alarm portal-$(TENANT)-app-health is $(STATE): $$body"

schedule: ## while make dev runs: make schedule NAME=backup|validate|metering|licenses (the schedule's rule fires now)
	@[[ -n "$(NAME)" ]] || { echo "usage: make schedule NAME=backup|validate|metering|licenses" >&2; exit 2; }
	@url="$$(cat .dev/events-url 2>/dev/null)"; \
	if [[ -z "$$url" ]] || ! curl -sS -o /dev/null --max-time 2 "$$url/" 2>/dev/null; then \
		echo "make schedule: the local stack is not running: start it with 'make dev' first" >&2; exit 1; \
	fi; \
	answer="$$(curl -sS --max-time 600 -X POST -H 'content-type: application/json' \
		-d '{"name": "$(NAME)"}' -w '\n%{http_code}' "$$url/__admin/schedules")" || exit 1; \
	code="$${answer##*$$'\n'}"; body="$${answer%$$'\n'*}"; \
	if [[ "$$code" != 200 ]]; then echo "make schedule: refused ($$code): $$body" >&2; exit 1; fi; \
	echo "schedule $(NAME) ran: $$body"

test: tools ## every test: unit, integration (moto), and the web portal's in a real browser (chromium)
	AWS_EC2_METADATA_DISABLED=true cargo test --workspace --all-targets --locked
	@$(MAKE) --no-print-directory test-browser

test-browser: tools web ## the web portal in chromium (Playwright) against the local stack it starts; screenshots in target/screenshots/
	@cargo build --locked --bin devstack
	AWS_EC2_METADATA_DISABLED=true npm --prefix web test

token: ## print a bearer token the local API accepts: make token ROLE=admin|operator|viewer [SUB=name]
	@cargo run -q --locked --bin devstack -- token --role $(ROLE) $(if $(SUB),--sub $(SUB))

signin: ## print a local sign-in link for the web portal: make signin ROLE=admin|operator|viewer [SUB=name]
	@echo "http://127.0.0.1:$(PORT)/#access_token=$$(cargo run -q --locked --bin devstack -- token --role $(ROLE) $(if $(SUB),--sub $(SUB)))"

openapi: ## rewrite shared/api/openapi.json (the served OpenAPI document) from the handlers' annotations
	UPDATE_OPENAPI=1 cargo test --workspace --lib --locked openapi_json_is_the_generated_document

web-lifecycle: ## rewrite web/src/generated/lifecycle.json (what the portal offers per state) from the lifecycle table
	UPDATE_WEB_LIFECYCLE=1 cargo test --workspace --locked --test web_lifecycle

lint: tools ## rustfmt, clippy, cfn-lint and checkov on the SAM template, asl-validator on the state machines
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	$(TOOLS)/cfn-lint infra/template.yaml
	@# checkov offline: no update check, nothing fetched; every skip in the template says why.
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true .tools/checkov/bin/checkov --quiet --compact --skip-download \
		--framework cloudformation --file infra/template.yaml
	@help="$$($(MAKE) -s --no-print-directory help)"; \
		for v in PORT ROLE SUB; do grep -q "  $$v=" <<<"$$help" || { echo "make help does not name $$v" >&2; exit 1; }; done; \
		! grep -F '$$(' <<<"$$help" || { echo "make help prints an unexpanded variable" >&2; exit 1; }
	@shopt -s nullglob; for f in statemachines/*.asl.json; do \
		echo "asl-validator $$f"; .tools/node_modules/.bin/asl-validator --json-path "$$f" || exit 1; done

build: tools ## release build of every function with cargo-lambda (x86_64 here; SAM builds arm64 for AWS)
	PATH="$(CURDIR)/$(TOOLS):$$PATH" cargo lambda build --release --locked

deploy: ## build for arm64 and deploy with SAM (needs the SAM CLI and AWS credentials)
	sam build --template-file infra/template.yaml
	sam deploy

deploy-web: web ## after make deploy: web/dist and config.json (Cognito sign-in) to the stack's bucket, then invalidate (AWS CLI)
	@out() { aws cloudformation describe-stacks --stack-name $${STACK:-admin-portal} \
		--query "Stacks[0].Outputs[?OutputKey=='$$1'].OutputValue" --output text; }; \
	bucket="$$(out WebBucketName)"; url="$$(out WebUrl)"; \
	printf '{"cognito":{"domain":"%s","client_id":"%s","redirect_uri":"%s"}}\n' \
		"$$(out WebSignInDomain)" "$$(out WebUserPoolClientId)" "$$url" > web/dist/config.json; \
	aws s3 sync --delete --cache-control 'public, max-age=31536000, immutable' web/dist/assets "s3://$$bucket/assets" && \
	aws s3 cp --cache-control no-cache web/dist/index.html "s3://$$bucket/index.html" && \
	aws s3 cp --cache-control no-cache --content-type application/json web/dist/config.json "s3://$$bucket/config.json" && \
	aws cloudfront create-invalidation --distribution-id "$$(out WebDistributionId)" --paths /index.html /config.json >/dev/null && \
	echo "web portal: $$url"

bench: tools ## release sizes, cold and warm starts vs a bare runtime and Python, memory, request costs (bench/RESULTS.md); the 10,000-tenant fleet (bench/FLEET.md)
	@bash bench/run.sh

load: tools ## bounded load test of the local stack: CLIENTS=8 DURATION=30 (s); requests/s, p50/p99, 5xx, audit (bench/LOAD.md)
	@cargo build --locked --bin devstack
	@python3 bench/load.py

clean: ## remove build output and local state (keeps .tools/)
	cargo clean
	rm -rf .dev
